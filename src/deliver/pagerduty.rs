//! PagerDuty Events API v2: POST the event with the routing key put in,
//! and read the answer as PagerDuty documents it: 202 taken; 400 an
//! invalid event or routing key (its `errors` say which; permanent); 429
//! too many events for this key; 5xx PagerDuty's trouble (both retried
//! with backoff).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::config::{PagerdutyChannel, Secret};

use super::http::{classify_refusal, client, describe_error, short, short_to};
use super::sender::Outcome;

/// PagerDuty documents 120 events a minute per routing key.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

pub struct PagerdutySender {
    client: reqwest::Client,
    routing_key: Secret,
    url: String,
}

impl PagerdutySender {
    pub fn new(channel: &PagerdutyChannel) -> Result<PagerdutySender, String> {
        Ok(PagerdutySender {
            client: client()?,
            routing_key: channel.routing_key.clone(),
            url: channel.url.clone(),
        })
    }

    /// Channels on one routing key share PagerDuty's limit.
    pub fn routing_key(&self) -> &str {
        self.routing_key.expose()
    }

    pub async fn send(&self, event: &Value) -> Outcome {
        let mut event = event.clone();
        event["routing_key"] = Value::String(self.routing_key.expose().to_owned());
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let request = (self.client.post(&self.url))
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

async fn classify(response: reqwest::Response) -> Outcome {
    classify_refusal(response, None, |status, body, answer| match status {
        StatusCode::BAD_REQUEST => refused(body),
        _ => format!("{answer} (is `url` PagerDuty's Events API v2 endpoint?)"),
    })
    .await
}

/// `400 Event object is invalid: Invalid routing key (check routing_key:
/// an Events API v2 integration key)`: PagerDuty's message and `errors`.
fn refused(body: &str) -> String {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = parsed["message"].as_str().unwrap_or("invalid event");
    let errors: Vec<&str> = (parsed["errors"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let mut reason = format!("400 {}", short(message));
    if !errors.is_empty() {
        reason.push_str(&format!(": {}", short_to(&errors.join("; "), 500)));
    }
    if errors.iter().any(|e| e.to_ascii_lowercase().contains("routing key")) {
        reason.push_str(" (check routing_key: the Integration Key of an Events API v2 integration)");
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_pagerdutys_errors() {
        let body = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#;
        let reason = refused(body);
        assert!(
            reason.starts_with("400 Event object is invalid: Invalid routing key"),
            "{reason}"
        );
        assert!(reason.contains("check routing_key"), "{reason}");
    }
}
