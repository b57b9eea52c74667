//! Slack incoming webhooks: POST the Block Kit JSON, and read Slack's
//! answer as it documents it (200 `ok`; 400 `invalid_payload`; 403
//! `action_prohibited`; 404 `no_service`; 410 `channel_is_archived`;
//! 429 with Retry-After; 5xx).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

use crate::config::{Secret, SlackChannel};

use super::sender::Outcome;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// Slack's error strings are short; anything longer is not worth keeping.
const REASON_MAX: usize = 200;

pub struct SlackSender {
    client: reqwest::Client,
    url: Secret,
    /// The channel's own `min_interval`, if set.
    pub min_interval: Option<Duration>,
}

impl SlackSender {
    pub fn new(channel: &SlackChannel) -> Result<SlackSender, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(SlackSender {
            client,
            url: channel.webhook_url.clone(),
            min_interval: channel.min_interval,
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

async fn classify(response: reqwest::Response) -> Outcome {
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    let answer = format!("{} {}", status.as_u16(), short(&body));
    match status {
        s if s.is_success() => Outcome::Delivered { detail: answer },
        StatusCode::TOO_MANY_REQUESTS => Outcome::Transient {
            reason: answer,
            retry_after: Some(retry_after.unwrap_or(Duration::from_secs(30))),
        },
        StatusCode::REQUEST_TIMEOUT => Outcome::Transient {
            reason: answer,
            retry_after: None,
        },
        s if s.is_server_error() => Outcome::Transient {
            reason: answer,
            retry_after,
        },
        _ => Outcome::Permanent { reason: answer },
    }
}

/// Slack sends Retry-After in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn short(body: &str) -> String {
    let body = body.trim();
    let cut: String = body.chars().take(REASON_MAX).collect();
    cut.replace(['\r', '\n'], " ")
}

/// reqwest's errors print the URL, which holds the webhook's secret.
fn describe_error(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    format!("{kind}: {detail}")
}
