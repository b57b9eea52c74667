//! Slack's Web API as a bot token calls it: a JSON body, the token as a
//! bearer, and the answer read as Slack documents it. A failure is mostly
//! HTTP 200 with `{"ok": false, "error": ...}`; 429 (`ratelimited`, with
//! Retry-After) and 5xx are Slack's trouble and are retried; an error that
//! needs a human (a revoked token, the app not in the channel) is
//! permanent, and says what to do.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use crate::config::Secret;

use super::http::{describe_error, retry_after, short};
use super::sender::Outcome;

/// Slack's own trouble, worth another try.
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "fatal_error",
    "internal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];
/// When a 429 gives no Retry-After.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(30);

/// What one call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `ok: true`, with the rest of Slack's answer (`channel`, `ts`, ...).
    Ok(Value),
    /// `error` is Slack's name for it (`not_in_channel`), or what went
    /// wrong on the way (`http_503`, `unreachable`).
    Failed { error: String, outcome: Outcome },
}

impl Answer {
    /// Slack's error name, when Slack gave one.
    pub fn error(&self) -> Option<&str> {
        match self {
            Answer::Failed { error, .. } if !error.starts_with("http_") && error != "unreachable" => Some(error),
            _ => None,
        }
    }
}

pub struct WebApi {
    client: reqwest::Client,
    token: Secret,
    /// The API's base, ending in `/`.
    base: String,
}

impl WebApi {
    pub fn new(client: reqwest::Client, token: Secret, base: String) -> WebApi {
        WebApi { client, token, base }
    }

    /// Calls `method` (`chat.postMessage`) with `body`.
    pub async fn call(&self, method: &str, body: &Value) -> Answer {
        let request = (self.client.post(format!("{}{method}", self.base)))
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(serde_json::to_vec(body).unwrap_or_default());
        match request.send().await {
            Ok(response) => read(response).await,
            Err(err) => Answer::Failed {
                error: "unreachable".into(),
                outcome: Outcome::Transient {
                    reason: describe_error(err),
                    retry_after: None,
                },
            },
        }
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let wait = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if status.as_u16() == 429 {
        return failed("ratelimited", Some(wait.unwrap_or(RATE_LIMIT_WAIT)));
    }
    if status.is_server_error() {
        let outcome = Outcome::Transient {
            reason: format!("{} {}", status.as_u16(), short(&body)),
            retry_after: wait,
        };
        return Answer::Failed {
            error: format!("http_{}", status.as_u16()),
            outcome,
        };
    }
    match (parsed["ok"].as_bool(), parsed["error"].as_str()) {
        (Some(true), _) if status.is_success() => Answer::Ok(parsed),
        (Some(false), Some(error)) => failed(error, wait),
        _ => Answer::Failed {
            error: format!("http_{}", status.as_u16()),
            outcome: Outcome::Permanent {
                reason: format!(
                    "{} {} (not a Slack Web API answer: is api_url right?)",
                    status.as_u16(),
                    short(&body)
                ),
            },
        },
    }
}

/// Slack's error `error`, transient or permanent, with what to do.
fn failed(error: &str, wait: Option<Duration>) -> Answer {
    let error = short(error);
    let reason = match hint(&error) {
        Some(hint) => format!("Slack error `{error}`: {hint}"),
        None => format!("Slack error `{error}`"),
    };
    let outcome = match TRANSIENT.contains(&error.as_str()) {
        true => Outcome::Transient {
            reason,
            retry_after: wait,
        },
        false => Outcome::Permanent { reason },
    };
    Answer::Failed { error, outcome }
}

/// What a human does about Slack's error `error`.
pub fn hint(error: &str) -> Option<&'static str> {
    Some(match error {
        "not_in_channel" => "invite the app to the channel (in the channel: /invite @your-app)",
        "missing_scope" => "add the bot token scope chat:write (OAuth & Permissions), then reinstall the app",
        "channel_not_found" => {
            "use the channel's id (C0123456789) as `channel`; for a private channel, invite the app first"
        }
        "invalid_auth" | "not_authed" => "check bot_token: the app's Bot User OAuth Token (xoxb-...)",
        "token_revoked" | "account_inactive" => {
            "the token no longer works: reinstall the app and set the new bot_token"
        }
        "is_archived" => "the channel is archived: unarchive it or give another channel",
        "msg_too_long" | "invalid_blocks" => "Slack refused the message syncwatch built: please report it",
        "ratelimited" => "Slack's rate limit: syncwatch waits as asked and tries again",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_is_retried_or_not_as_slack_documents_it() {
        for error in ["ratelimited", "internal_error", "fatal_error"] {
            let Answer::Failed { outcome, .. } = failed(error, None) else {
                panic!()
            };
            assert!(matches!(outcome, Outcome::Transient { .. }), "{error}");
        }
        let permanent = [
            "invalid_auth",
            "not_authed",
            "token_revoked",
            "account_inactive",
            "missing_scope",
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "msg_too_long",
            "invalid_blocks",
        ];
        for error in permanent {
            let answer = failed(error, None);
            assert_eq!(answer.error(), Some(error));
            let Answer::Failed {
                outcome: Outcome::Permanent { reason },
                ..
            } = answer
            else {
                panic!("{error} is permanent")
            };
            assert!(reason.starts_with(&format!("Slack error `{error}`: ")), "{reason}");
        }
    }
}
