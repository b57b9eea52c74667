//! The channel kinds beside Slack and email: `pagerduty`, `teams`,
//! `webhook` and `alertmanager`, each checked completely at load (keys,
//! URLs, secrets), so a mistake is a `check` error with its line, not a
//! failed notification.

use std::time::Duration;

use base64::Engine;
use serde_yaml::Value;

use super::model::{AlertmanagerChannel, PagerdutyChannel, SecretKey, TeamsChannel, WebhookChannel};
use super::reader::{At, Fields, Reader};
use super::secret::Secret;
use super::units::{DURATION_FORMS, parse_duration};

/// PagerDuty's US endpoint; EU accounts give `events.eu.pagerduty.com`.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Alertmanager's own default `resolve_timeout` is 5m: a minute keeps
/// well inside it.
const RESEND_DEFAULT: Duration = Duration::from_secs(60);

pub fn read_pagerduty(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<PagerdutyChannel> {
    let fields = reader.fields(Some(value), at, &["routing_key", "routing_key_file", "url"]);
    let url = match fields.get("url") {
        Some((value, at)) => read_url(reader, value, &at, PAGERDUTY_URL)?,
        None => PAGERDUTY_URL.to_owned(),
    };
    let routing_key = required_secret(reader, &fields, "routing_key")?;
    Some(PagerdutyChannel { routing_key, url })
}

pub fn read_teams(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<TeamsChannel> {
    let fields = reader.fields(Some(value), at, &["webhook_url", "webhook_url_file"]);
    let webhook_url = required_secret(reader, &fields, "webhook_url")?;
    // The URL is a credential: the error says what is wrong, never the URL.
    if !reader.skip_secrets && !is_http_url(webhook_url.expose()) {
        let example = "https://....logic.azure.com/workflows/... (a Teams Workflows webhook)";
        reader.error(&fields.at.key("webhook_url"), "is not an http(s) URL", Some(example));
        return None;
    }
    Some(TeamsChannel { webhook_url })
}

pub fn read_webhook(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<WebhookChannel> {
    let fields = reader.fields(Some(value), at, &["url", "secret", "secret_file", "headers"]);
    let url = match fields.get("url") {
        Some((value, at)) => read_url(reader, value, &at, "https://ops.example.com/hooks/syncwatch"),
        None => {
            reader.error(&fields.at.key("url"), "`url` is required", None);
            None
        }
    };
    let given = fields.has("secret") || fields.has("secret_file");
    let secret = match reader.secret(&fields, "secret") {
        Some(secret) => read_signing_key(reader, &secret, &fields.at.key("secret")).map(Some),
        None if given => None,
        None => Some(None),
    };
    let headers = match fields.get("headers") {
        Some((value, at)) => read_headers(reader, value, &at),
        None => Some(Vec::new()),
    };
    Some(WebhookChannel {
        url: url?,
        secret: secret?,
        headers: headers?,
    })
}

pub fn read_alertmanager(reader: &mut Reader<'_>, value: &Value, at: At) -> Option<AlertmanagerChannel> {
    let fields = reader.fields(Some(value), at, &["url", "resend"]);
    let url = match fields.get("url") {
        Some((value, at)) => read_url(reader, value, &at, "http://alertmanager.internal:9093"),
        None => {
            reader.error(&fields.at.key("url"), "`url` is required", None);
            None
        }
    };
    let resend = match fields.get("resend") {
        Some((value, at)) => reader.parsed(value, &at, DURATION_FORMS, parse_duration_at_least_1s),
        None => Some(RESEND_DEFAULT),
    };
    Some(AlertmanagerChannel {
        url: url?.trim_end_matches('/').to_owned(),
        resend: resend?,
    })
}

fn parse_duration_at_least_1s(raw: &str) -> Option<Duration> {
    parse_duration(raw).filter(|d| *d >= Duration::from_secs(1))
}

fn required_secret(reader: &mut Reader<'_>, fields: &Fields<'_>, key: &str) -> Option<Secret> {
    let secret = reader.secret(fields, key);
    let file_key = format!("{key}_file");
    if secret.is_none() && !fields.has(key) && !fields.has(&file_key) {
        let allowed = format!("{key}, {file_key}");
        reader.error(&fields.at, format!("`{key}` is required"), Some(&allowed));
    }
    secret
}

/// A URL that is not a secret, so the error may show it.
fn read_url(reader: &mut Reader<'_>, value: &Value, at: &At, example: &str) -> Option<String> {
    let text = reader.string(value, at)?;
    if !is_http_url(&text) {
        reader.error(at, format!("`{text}` is not an http(s) URL"), Some(example));
        return None;
    }
    Some(text)
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
}

/// A Standard Webhooks secret: `whsec_` and the base64 of the key bytes
/// (the prefix is optional, as the reference libraries accept it).
fn read_signing_key(reader: &mut Reader<'_>, secret: &Secret, at: &At) -> Option<SecretKey> {
    if reader.skip_secrets {
        return Some(SecretKey(Vec::new()));
    }
    let encoded = secret.expose().strip_prefix("whsec_").unwrap_or(secret.expose());
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Some(SecretKey(key)),
        _ => {
            let forms = "whsec_ followed by base64, e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
            reader.error(at, "is not a Standard Webhooks secret", Some(forms));
            None
        }
    }
}

/// Header names a receiver could take for syncwatch's own: they are not
/// the operator's to set.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fn read_headers(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<Vec<(String, String)>> {
    let Some(map) = value.as_mapping() else {
        reader.error(
            at,
            "expected a mapping of header names to values",
            Some("{ X-Team: finance }"),
        );
        return None;
    };
    let mut headers = Vec::new();
    let mut ok = true;
    for (name, value) in map {
        let name = name.as_str().unwrap_or_default().to_owned();
        let at = at.key(&name);
        let Some(value) = reader.string(value, &at) else {
            ok = false;
            continue;
        };
        let valid_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let valid_value = reqwest::header::HeaderValue::from_str(&value).is_ok();
        if !valid_name || !valid_value || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            let why =
                "is not a header syncwatch can send (an HTTP token name, a one-line value, not one it sets itself)";
            reader.error(
                &at,
                why,
                Some(&format!("any header but {}", RESERVED_HEADERS.join(", "))),
            );
            ok = false;
            continue;
        }
        headers.push((name, value));
    }
    ok.then_some(headers)
}

#[cfg(test)]
#[path = "receivers_tests.rs"]
mod tests;
