//! What every HTTP receiver shares: one client's settings, reading a
//! Retry-After, keeping an answer short for the log, and saying what a
//! failed request was without the URL (which may hold a credential).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use super::sender::Outcome;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// Services' error strings are short; anything longer is not worth keeping.
const REASON_MAX: usize = 200;

pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))
}

/// Retry-After in seconds, as Slack, Teams and PagerDuty send it.
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub fn short(body: &str) -> String {
    short_to(body, REASON_MAX)
}

pub fn short_to(body: &str, max: usize) -> String {
    let body = body.trim();
    let cut: String = body.chars().take(max).collect();
    cut.replace(['\r', '\n'], " ")
}

/// reqwest's errors print the URL, which may hold a secret.
pub fn describe_error(err: reqwest::Error) -> String {
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

/// The answer of a service that speaks plain HTTP (Slack, Teams, a
/// webhook receiver): 2xx delivered; 429 after its Retry-After (30 s when
/// it gives none); 408 and 5xx retried; any other 4xx will not work.
pub async fn classify(response: reqwest::Response) -> Outcome {
    let busy = Some(Duration::from_secs(30));
    classify_refusal(response, busy, |_, _, answer| answer).await
}

/// As [`classify`], for a service with its own words: `busy` is the wait
/// after a 429 without Retry-After (`None`: the usual backoff), and
/// `refused` words a refusal (any 4xx but 408 and 429) from its status,
/// body and `<status> <body>` answer, as the service documents it.
pub async fn classify_refusal(
    response: reqwest::Response,
    busy: Option<Duration>,
    refused: impl FnOnce(StatusCode, &str, String) -> String,
) -> Outcome {
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    let answer = format!("{} {}", status.as_u16(), short(&body));
    match status {
        s if s.is_success() => Outcome::Delivered { detail: answer },
        StatusCode::TOO_MANY_REQUESTS => Outcome::Transient {
            reason: answer,
            retry_after: retry_after.or(busy),
        },
        StatusCode::REQUEST_TIMEOUT => Outcome::Transient {
            reason: answer,
            retry_after: None,
        },
        s if s.is_server_error() => Outcome::Transient {
            reason: answer,
            retry_after,
        },
        _ => Outcome::Permanent {
            reason: refused(status, &body, answer),
        },
    }
}
